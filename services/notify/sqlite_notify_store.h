// Placeholder: being written (the SQLite NotifyStore).
