"""edge-pose: pose estimation and safety events on Raspberry Pi-class cameras, published over MQTT."""

__version__ = "0.1.0"
