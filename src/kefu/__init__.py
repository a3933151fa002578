"""kefu (客服): self-hosted omnichannel customer-service and contact-center platform."""

__version__ = "0.1.0"
