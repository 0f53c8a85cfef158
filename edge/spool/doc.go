// Package spool is the edge's durable store-and-forward queue. The
// publisher appends each numbered batch of samples to it and publishes from
// it; while the MQTT broker or the collector is away the batches wait on
// flash (SD card, eMMC), survive SIGKILL and power cuts, and are replayed in
// order, with their original timestamps, once the connection is back.
//
// # Use
//
//	sp, err := spool.Open(dir, spool.Opts{})   // replays what an earlier run left
//	defer sp.Close()                            // writes what waits, saves the position
//
//	// Producer, any goroutine: never waits for the disk.
//	err = sp.Append(spool.Record{Device: dev, First: first, Samples: samples})
//
//	// Publisher, one goroutine.
//	recs, err := sp.Peek(16)                   // oldest unacknowledged, disk then memory
//	for _, r := range recs {
//		publish(r)                          // r.Replayed: from an earlier run
//		sp.Ack(r.End())                     // delivered: never handed out again
//	}
//
// Records are numbered by the caller and must come in increasing sample
// numbers, as acknowledgements go by number (ErrOutOfOrder otherwise). After
// a restart End returns the number after the last record on disk; a
// sequence that restarted lower (a reset sequence store) must resume there.
// Whether a record predates the current MQTT session, for Sparkplug's
// is_historical, is Replayed (an earlier run) or First below the number at
// which the session started.
//
// # Durability
//
// Append only encodes the record into memory. Records still unacknowledged
// are written and synced (fdatasync(2)) by a flush: every FlushInterval and
// whenever BatchBytes are waiting, by a goroutine the Spool owns (stopped by
// Close), or by the owner calling Flush when FlushInterval is negative. The
// guarantee:
//
//   - Every record appended before a call to Flush that returned nil is
//     durable, unless dropped and counted (below): it is replayed after
//     SIGKILL, and after a power cut on storage that honours fsync. With the spool's own flushing, a record is durable
//     within FlushInterval of its Append while the disk works.
//   - A crash loses at most the records appended since the last successful
//     flush (after SIGKILL only those not yet handed to write(2)), and only
//     from the tail: what survives is the appended sequence up to some
//     point, in order, without gaps.
//   - Delivery is at least once. Acknowledgements are saved at each flush; a
//     crash replays those made since the last one, and the collector
//     discards the repeats by sample number. A record acknowledged before
//     it was flushed is never written at all: while the broker is
//     connected and acknowledges within FlushInterval, the spool writes
//     nothing to flash.
//   - Damaged data (a torn tail, zeroed blocks, flipped bits) fails its
//     checksum and is skipped and counted in Stats.Corrupt; everything
//     intact around it is replayed. Nothing damaged is ever returned.
//   - Records are deleted unacknowledged only to keep within MaxBytes (the
//     oldest segment first) or, while writes fail, MemBytes (the oldest
//     waiting record first), and are counted in Stats.Dropped.
//
// A segment is created by writing and syncing its header and then syncing
// the directory (fsync(2) on it), before any record is written into it, so a
// durable record is never in a file a power cut can unlink. When a write
// fails (ENOSPC, EIO), the partial frame is cut off, the error is logged and
// kept in Stats.LastError, and the records stay in memory; the next flush
// retries. When a sync fails, the kernel may have dropped the data it could
// not write, so the frames are cut off and rewritten in a new segment; if
// the cut fails too they may later be replayed twice.
//
// # Flash write rate
//
// The rate that wears flash is set by the number of flushes more than by
// the data: each sync rewrites the partly filled last block and commits a
// filesystem journal transaction. Measured at the block device (ext4, 4 KiB
// blocks, records of ten temperature samples, about 33 bytes per sample;
// TestEncodingIsCompact pins the size), with the broker away:
//
//	samples/s  FlushInterval  data       fsyncs/s  written to the device
//	10         1s             330 B/s    1         5.1 KB/s  (440 MB/day)
//	10         5s             330 B/s    0.2       1.6 KB/s  (140 MB/day)
//	100        1s             3.3 KB/s   1         9.5 KB/s  (820 MB/day)
//	100        5s             3.3 KB/s   0.2       4.6 KB/s  (400 MB/day)
//	1000       1s             33 KB/s    1.1       40 KB/s   (3.4 GB/day)
//	1000       5s             33 KB/s    0.3       35 KB/s   (3.0 GB/day)
//
// That is the data plus about 5 KiB per flush, and a few syncs more per
// SegmentBytes written (a new segment: its header and the directory).
// While the backlog drains, each flush after acknowledgements adds one
// in-place 4 KiB write of the acknowledgement file; each delivered segment
// is deleted. An SD card or eMMC controller rewrites at least one flash
// page (4 to 16 KiB) per sync, so these figures are a lower bound on wear.
// FlushInterval is thus the trade between wear and what a power cut may
// lose; with the broker connected nothing is written at all.
//
// # On-disk format
//
// The directory holds a lock file ("lock", flock(2) while open), the
// acknowledgement file ("ack") and segment files named by a 16-digit hex
// id that only grows ("0000000000000001.seg"). A segment of an unknown
// format version is renamed with ".bad" appended and left for inspection.
// All integers are little-endian; CRC-32C is the Castagnoli CRC (RFC 3720
// §12.1).
//
// A segment starts with a 32-byte header:
//
//	offset size
//	0      8    magic "RWSPOOL\n"
//	8      2    format version, 1
//	10     2    zero
//	12     8    segment id
//	20     8    creation time, Unix nanoseconds
//	28     4    CRC-32C of bytes 0-27
//
// followed by frames, one per record, written whole and never rewritten:
//
//	0      4    magic D7 52 57 46
//	4      4    CRC-32C of bytes 8 to the end of the payload
//	8      4    payload length n, at most 16 MiB
//	12     n    payload
//
// A reader that meets a bad frame (wrong magic, impossible length, checksum
// mismatch) resynchronises at the next occurrence of the frame magic whose
// frame checks out. A header that fails its checksum counts as damage, but
// the frames after it are still read.
//
// The payload uses the varints of encoding/binary (uvarint: unsigned LEB128;
// varint: zig-zag):
//
//	uvarint  First
//	uvarint  device length, then the device bytes
//	uvarint  sample count, at least 1
//	uvarint  label count, over all samples
//	per sample:
//	  str      metric
//	  uvarint  label count, then per label: str name, str value
//	  str      unit
//	  byte     value kind: 0 none, 1 float, 2 uint, 3 int, 4 bool
//	           then: float: 8 bytes, the IEEE 754 bits; uint: uvarint;
//	           int: varint; bool: one byte, 0 or 1
//	  varint   Unix seconds minus the previous sample's (the first: minus 0)
//	  varint   nanoseconds minus the previous sample's
//
// A str is a uvarint x: for even x, a string of x/2 bytes follows and is
// added to the record's string table; for odd x, it is table entry x/2
// (from 0). Metric names, label names and units thus cost one byte after
// their first use in a record. Values are exact: a Counter64 keeps 64 bits,
// a float its bits (NaN payloads included), timestamps their nanoseconds.
//
// The acknowledgement file has two 36-byte slots, at offsets 0 and 4096,
// written alternately in place; the valid slot with the higher sequence
// wins, so a torn write falls back to the previous position:
//
//	0      4    magic "RWAK"
//	4      2    version, 1
//	6      2    zero
//	8      8    sequence
//	16     8    segment id      } the first byte not acknowledged;
//	24     8    offset          } earlier segments are all delivered
//	32     4    CRC-32C of bytes 0-31
package spool
