"""What every layer above the core may use: settings, the extension objects,
database engine settings and the locale chain."""
