#!/usr/bin/env bash
# Creates CioSegment's topics on the docker-compose broker; run by the `kafka-init` service
# (apache/kafka image, so kafka-topics.sh is at hand). Idempotent: --if-not-exists, then a check that
# every topic has the expected partition count (an existing topic with another count fails the run
# rather than being silently accepted: the dedup changelog must match cio.webhooks.raw partition for
# partition). Exit 0 lets ingest and processor start (depends_on: service_completed_successfully).
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP_SERVERS:-kafka:19092}"
TOPICS_CMD=/opt/kafka/bin/kafka-topics.sh
PARTITIONS="${CIO_PARTITIONS:-12}"   # cio.webhooks.raw, the dedup changelog, cio.segment.track and cio.segment.held
DLQ_PARTITIONS="${CIO_DLQ_PARTITIONS:-3}"
DAY_MS=86400000

echo "waiting for ${BOOTSTRAP}"
for attempt in $(seq 1 60); do
  if "$TOPICS_CMD" --bootstrap-server "$BOOTSTRAP" --list > /dev/null 2>&1; then
    break
  fi
  if [ "$attempt" -eq 60 ]; then
    echo "broker ${BOOTSTRAP} did not answer" >&2
    exit 1
  fi
  sleep 2
done

# create <topic> <partitions> [--config key=value ...]
create() {
  local topic=$1 partitions=$2
  shift 2
  "$TOPICS_CMD" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor 1 "$@"
  local actual
  actual=$("$TOPICS_CMD" --bootstrap-server "$BOOTSTRAP" --describe --topic "$topic" \
    | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)
  if [ "$actual" != "$partitions" ]; then
    echo "topic ${topic} has ${actual:-?} partitions, expected ${partitions}: delete it, or start from an empty broker (docker compose down)" >&2
    exit 1
  fi
  echo "topic ${topic}: ${partitions} partitions $*"
}

# Raw webhooks as received: 7 days, so a stopped processor can catch up after a long weekend.
create cio.webhooks.raw "$PARTITIONS" --config retention.ms=$((7 * DAY_MS))
# The transformer's dedup state: compacted, same partition count as cio.webhooks.raw. Also deleted after
# 35 days, longer than the longest horizon (FirstOccurrenceHorizon, 30 days): a key is written once, when it
# is first seen, and is of no use after its expiry, tombstoned or not.
create cio.processor.dedup-changelog "$PARTITIONS" --config cleanup.policy=compact,delete --config retention.ms=$((35 * DAY_MS))
# Ready-to-send Avro track events (broker default retention, 7 days).
create cio.segment.track "$PARTITIONS"
# Track events of a source Segment refused or ignored for a while, parked until it takes them again: as many
# partitions as cio.segment.track (a person's held events are in the partition of the same number), and 14
# days, time to fix a revoked write key or a wrong endpoint.
create cio.segment.held "$PARTITIONS" --config retention.ms=$((14 * DAY_MS))
# Dead letters: 30 days to look at them and replay.
create cio.webhooks.dlq "$DLQ_PARTITIONS" --config retention.ms=$((30 * DAY_MS))
create cio.segment.dlq "$DLQ_PARTITIONS" --config retention.ms=$((30 * DAY_MS))
# One small record per webhook the transformer dropped on purpose (filtered, duplicate), for the event inspector.
create cio.webhooks.outcomes "$DLQ_PARTITIONS" --config retention.ms=$((3 * DAY_MS))
# One record per Segment request (source, events, attempt, status): what became of an event at Segment.
create cio.segment.deliveries "$DLQ_PARTITIONS" --config retention.ms=$((3 * DAY_MS))

echo "topics ready"
