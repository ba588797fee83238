"""Flask layer: one blueprint per CDS Hooks surface (``discovery``, ``hooks``, ``health``,
``feedback``), JSON errors, CORS, request log, authentication (``auth``) and the gunicorn
runner (``server``). Views parse, call the domain, serialise."""
