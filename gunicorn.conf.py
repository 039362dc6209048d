"""Read by gunicorn started from the project directory (`gunicorn config.wsgi`); see README, Operations."""

wsgi_app = "config.wsgi"
# Feed URLs carry their secret token: the access log (--access-logfile) and the error log write them redacted.
logger_class = "config.logging.RedactingGunicornLogger"
