"""The logged-in user's pages: home, log out, log out everywhere."""
