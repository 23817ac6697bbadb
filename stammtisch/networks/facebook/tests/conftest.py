from stammtisch.networks.meta.tests.graph import graph, ig_channel, meta_enabled, page_channel

__all__ = ["graph", "ig_channel", "meta_enabled", "page_channel"]
