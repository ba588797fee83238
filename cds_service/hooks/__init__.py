"""The patient-view hook, apart from HTTP: request schema and parsing (``request``), prefetch
templates and resolution (``prefetch``, ``resolution``), the service (``service``), audit
records (``audit``). Imports nothing from Flask."""
