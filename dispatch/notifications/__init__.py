"""Same-day changes told to people: in-app, email, SMS and webhooks, from an outbox written with the change."""
