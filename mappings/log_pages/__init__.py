"""Staff pages over the delivery log: lists, detail, replay, dashboard, export, history."""
