"""securebox_auth: strong customer authentication and entitlements for business portals."""
