"""The operator dashboard (``kiosk ops dashboard``): the fleet's state from the broker,
server-rendered pages with live updates, operator accounts, signed remote commands."""
