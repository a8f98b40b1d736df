"""The service: the train (request side), the pipeline (run side), locks, stale reminders,
stats and offline sync. Calls core, render, kube and the ports; never a backend directly."""
