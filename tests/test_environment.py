"""TensorFlow's start-up lines stay out of captured output, and its modules out of the garbage
collector's scans."""

from __future__ import annotations

import os
import subprocess
import sys

from trainspec.environment import _TF_NOISE

SCRIPT = """
import gc
from trainspec.environment import import_tensorflow_quietly
import_tensorflow_quietly()
import os, tensorflow as tf
print(float(tf.constant(1.0) + 1), os.environ["TF_CPP_MIN_LOG_LEVEL"], gc.get_freeze_count())
"""


def test_the_first_run_imports_tensorflow_without_its_cpp_start_up_lines():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    value, level, frozen = done.stdout.split()
    assert (value, level) == ("2.0", "2")
    assert int(frozen) > 100_000  # TensorFlow's and Keras' objects, out of every collection
    for noise in ("cuInit", "cudart_stub", "absl::InitializeLog", "cpu_feature_guard"):
        assert noise not in done.stderr


def test_only_known_noise_is_filtered():
    assert _TF_NOISE.search("E0000 00:00:1795.3 10605 cuda_platform.cc:52] failed call to cuInit")
    assert _TF_NOISE.search("I0000 00:00:17.1 10605 cudart_stub.cc:31] Could not find cuda drivers")
    assert not _TF_NOISE.search("ValueError: Input 0 of layer dense is incompatible")
