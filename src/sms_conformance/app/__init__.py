"""The application: the configuration directory, settings assembled from each platform's
models, connection profiles, and the use cases the CLI commands call.

May import every part but cli."""
