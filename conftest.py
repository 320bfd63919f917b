"""Test-session settings shared by every package's tests.

DDS stays on this host, and each pytest process gets its own ROS domain so that test runs started
side by side (several developers, CI shards) never see each other's topics.
"""

import os
import random

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
