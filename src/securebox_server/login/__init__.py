"""The login pages (the seed's two steps): identify, choose a method, the forced code
change, the strong-authentication prompt, the blocked page. Each method's own page is a
module of :mod:`securebox_server.methods`."""
