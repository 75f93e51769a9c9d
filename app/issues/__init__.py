"""Problems found (issues), their fishbone causes and 5-Whys chains, and the priority matrix."""
