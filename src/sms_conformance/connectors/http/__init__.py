"""The HTTP transport every platform's client shares, free of any platform.

Modules: transport (HttpClient: session, pool, retries, size caps, per-request and per-run
deadlines), watchdog (the deadline that cuts a stalled TLS handshake or header read), retry
(what is transient, backoff, Retry-After), errors (network failures and 401/403 as typed errors).
A platform's package subclasses HttpClient and decodes its own answers.
"""
