"""ADB controller: Android phones attached to this host as rotating mobile proxies."""
