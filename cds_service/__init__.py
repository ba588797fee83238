"""CDS Hooks 2.0 service: screening criteria for investigational MSC therapy in chronic liver disease."""

__version__ = "0.1.0"
