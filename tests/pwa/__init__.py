"""The app on the phone as the server delivers it."""
