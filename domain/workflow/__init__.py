"""Workflow domain module: service-flow templates, working-day calendars, delivery projects."""
