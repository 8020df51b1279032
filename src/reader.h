/*
 * reader.h -- reading capture files (pcap and pcapng) frame by frame, with
 * nanosecond timestamps, clear messages for files that are not captures,
 * and the file position for progress displays.
 *
 * libpcap's offline reader copies every frame out of a stdio buffer; a
 * classic pcap file is instead mapped and its frames handed out in place,
 * which is most of the cost of reading a trace in page cache.  libpcap
 * still opens every file (for its checks and its link-type mapping), and
 * reads pcapng.
 */
#ifndef NS_READER_H
#define NS_READER_H

#include <pcap/pcap.h>
#include <stdint.h>
#include <sys/types.h>

struct ns_reader {
	pcap_t		*pcap;		/* libpcap's reader (pcapng), or NULL */
	const char	*path;
	int		 dlt;
	int		 nsec;		/* timestamps are in nanoseconds */
	off_t		 size;		/* file size, for progress */
	uint64_t	 frame;		/* frames read so far */
	/* Classic pcap files are read in place, from a mapping. */
	const uint8_t	*map;
	uint64_t	 off;		/* next record header */
	uint64_t	 populated;	/* page tables filled up to here */
	int		 swapped;	/* written with the other byte order */
	struct pcap_pkthdr hdr;
};

/* 0, or -EINVAL after logging "PATH: not a readable capture file: ...". */
int	 ns_reader_open(struct ns_reader *, const char *path);
/* 1: a frame, 0: end of file, -EIO (logged): the file is cut. */
int	 ns_reader_next(struct ns_reader *, struct pcap_pkthdr **,
	    const u_char **);
uint64_t ns_reader_ts(const struct ns_reader *, const struct pcap_pkthdr *);
/* Bytes of the file consumed so far, -1 if unknown (pcapng via stdio). */
off_t	 ns_reader_offset(const struct ns_reader *);
/* Continue at a record offset seen before (mapped files): 0 or -ENOTSUP. */
int	 ns_reader_seek(struct ns_reader *, uint64_t offset, uint64_t frame);
void	 ns_reader_close(struct ns_reader *);

#endif /* NS_READER_H */
