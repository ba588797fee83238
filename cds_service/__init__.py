"""CDS Hooks 2.0 service: screening for investigational MSC therapy in chronic liver disease."""

__version__ = "0.1.0"
