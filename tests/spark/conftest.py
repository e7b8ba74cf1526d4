"""Every Spark session of these tests starts a JVM for a few thousand rows: one that starts fast
(the client compiler only, the serial collector) rather than one that compiles hot code for long
queries. It took 30 to 40 % less time per session here (README, AW_SPARK_JAVA_OPTIONS)."""

from __future__ import annotations

import pytest

# The client compiler alone gets a small code cache by default; Spark's generated code filled it
# ("CodeCache is full. Compiler has been disabled.") and a window function then failed to link
# (java.lang.InternalError). So the cache keeps the default size of the tiered JVM.
QUICK_START_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=240m"


@pytest.fixture(scope="session", autouse=True)
def quick_start_jvm():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AW_SPARK_JAVA_OPTIONS", QUICK_START_JVM)
        yield
