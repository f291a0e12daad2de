"""The service layer: what the API's blueprints and the web app's pages call. Each module owns
one kind of stored thing (`ecgs`: uploaded ECGs and their analyses); routes only parse the
request, call a service function and let a schema shape the answer."""
