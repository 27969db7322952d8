"""Certificate login for the server: the client certificate forwarded by a trusted TLS
proxy (:mod:`.forwarded`)."""
