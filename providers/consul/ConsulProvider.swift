// ConsulProvider: under construction.
