"""One construct per concern: storage, the registry function, the optional front door."""
