/*
 * persist_file.h -- the files of probe persistence (probe.persistence in
 * netspectra.yaml(5)): their names, the list of them in the directory,
 * when to rotate, and the two encodings (pcap records, text lines).
 *
 * A file is named packets-<UTC time of its first packet>-<sequence>.pcap
 * (or .txt), e.g. packets-20260101T000000Z-000042.pcap.  The sequence
 * number orders the files: it continues from the largest one in the
 * directory, so it only grows across restarts and a wall clock that
 * steps back changes no order.  Nothing here touches the ring or the
 * processes; it is separable so that it can be tested alone.
 */
#ifndef NS_PERSIST_FILE_H
#define NS_PERSIST_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pring.h"

#define NS_PERSIST_NAME_MAX	64
#define NS_PERSIST_PCAP_HDR	24	/* pcap file header */
#define NS_PERSIST_PCAP_REC	16	/* pcap record header */
#define NS_PERSIST_TEXT_MAX	192	/* longest text line, newline included */

struct ns_persist_file {
	uint64_t	 seq;
	char		 name[NS_PERSIST_NAME_MAX];
};

/* Our files in the directory, by sequence number, oldest first. */
struct ns_persist_files {
	struct ns_persist_file *f;
	unsigned	 n, cap;
};

/* When a file is closed and the next one started; 0 turns a limit off. */
struct ns_persist_rot {
	uint64_t	 size;		/* bytes */
	uint64_t	 interval;	/* ns, from the first packet's time */
};

const char	*ns_persist_ext(enum ns_config_encoding);
int		 ns_persist_name(char *buf, size_t len, uint64_t t0_ns,
		    uint64_t seq, enum ns_config_encoding);
int		 ns_persist_name_parse(const char *name, uint64_t *seqp);

int		 ns_persist_files_scan(struct ns_persist_files *, int dirfd);
int		 ns_persist_files_add(struct ns_persist_files *, uint64_t seq,
		    const char *name);
void		 ns_persist_files_drop(struct ns_persist_files *, unsigned n);
unsigned	 ns_persist_files_excess(const struct ns_persist_files *,
		    unsigned max_files);
uint64_t	 ns_persist_files_next_seq(const struct ns_persist_files *);
void		 ns_persist_files_free(struct ns_persist_files *);

bool		 ns_persist_rotate_due(const struct ns_persist_rot *,
		    uint64_t file_bytes, bool has_records, uint64_t t0_ns,
		    uint64_t add_bytes, uint64_t now_ns);

int		 ns_persist_pcap_header(int dlt, uint32_t snaplen,
		    uint8_t out[NS_PERSIST_PCAP_HDR]);
size_t		 ns_persist_encode(enum ns_config_encoding,
		    const struct ns_pring_rec *, uint8_t *out, size_t len);

#endif /* NS_PERSIST_FILE_H */
