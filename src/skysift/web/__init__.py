"""skysift.web: the web site and the Lasair-compatible REST API."""
