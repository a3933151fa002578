"""Channels: every way a customer reaches kefu, behind one ChannelAdapter interface."""
