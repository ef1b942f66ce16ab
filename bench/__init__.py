"""`make bench`: throughput, latency, memory and cold start of the assistant, side by side with
raw Rasa (its default pipeline) on the same bot. Results go to `bench/results/`."""
