// Kernel interfaces Glibc does not expose to Swift: packet sockets, socket filters and rtnetlink; and glibc's GNU
// extensions for spawning processes and for the heap.
#ifndef PYLON_CLINUXNET_H
#define PYLON_CLINUXNET_H

#include <stdint.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_arp.h>

/// Which frames a packet socket passes to user space (everything else is dropped in the kernel).
typedef enum {
    /// ARP frames received from the wire (not the ones this host sends).
    PYLON_FILTER_ARP_IN = 1,
    /// IPv6 frames received from the wire carrying ICMPv6 Neighbor Solicitations (no extension headers), plus any
    /// IPv6 frame too short to tell, so malformed ones are still counted by the decoder.
    PYLON_FILTER_NS_IN = 2,
} pylon_packet_filter;

/// Opens a non-blocking, close-on-exec AF_PACKET socket for `ethertype` bound to interface `ifindex`, with
/// `filter` attached before binding (no unfiltered frame is ever queued).
/// Returns the descriptor, or -1 with errno set.
int pylon_packet_socket(int ifindex, uint16_t ethertype, pylon_packet_filter filter);

/// Sends one frame on a packet socket bound to `ifindex`. Returns bytes sent, or -1 with errno set.
long pylon_packet_send(int fd, int ifindex, const void *frame, unsigned long length);

/// Opens a non-blocking, close-on-exec NETLINK_ROUTE socket subscribed to `groups`.
/// Returns the descriptor, or -1 with errno set.
int pylon_netlink_socket(uint32_t groups);

/// Opens a blocking, close-on-exec netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER) for requests and
/// dumps in the calling thread's network
/// namespace (where it stays, whichever thread uses it later): extended acknowledgements on (the kernel says why it
/// refused), echoed requests capped to their header, sends and receives giving up after `timeout_ms` (EAGAIN).
/// With `groups` non-zero it also receives those multicast groups' announcements, in a 4 MB receive buffer.
/// Returns the descriptor, or -1 with errno set.
int pylon_netlink_request_socket(int protocol, uint32_t groups, int timeout_ms);

/// Moves the calling thread into the network namespace behind `namespace_fd` (`setns(2)` with CLONE_NEWNET).
/// Returns 0, or -1 with errno set.
int pylon_enter_network_namespace(int namespace_fd);

/// Turns transmit checksum offload of interface `name` on or off (ethtool's legacy ETHTOOL_STXCSUM, which clears
/// every checksum feature, `tx-checksum-ip-generic` included, in the calling thread's network namespace). Stores
/// whether it was on in `was_enabled`. Returns 0, or -1 with errno set.
int pylon_set_tx_checksum(const char *name, int enabled, int *was_enabled);

/// A pipe whose two descriptors are close-on-exec (`pipe2` with O_CLOEXEC, which Glibc does not expose to Swift).
/// Returns 0, or -1 with errno set.
int pylon_pipe(int fds[2]);

/// Where a spawned process's standard descriptors come from, and how it starts.
typedef struct {
    /// Descriptors of this process that become the child's standard input, output and error; -1 is /dev/null, and
    /// `stderr_fd` -2 is the same as standard output.
    int stdin_fd, stdout_fd, stderr_fd;
    /// When not NULL, standard output and error are appended to this file instead (created with mode 0600).
    const char *log;
    /// Non-zero: the child starts a session of its own (no controlling terminal, not in this process's group).
    int new_session;
    /// Non-zero: `path` without a slash is looked up on PATH.
    int search_path;
} pylon_spawn_options;

/// Starts `path` with `argv` and `envp` (both NULL-terminated) with no blocked signals, default signal dispositions,
/// the standard descriptors `options` names and no other descriptor of this process inherited.
/// Returns the process id, or -1 with errno set.
int pylon_spawn(const char *path, char *const argv[], char *const envp[], const pylon_spawn_options *options);

/// Opens a TCP connection to `peer` for a BGP session: close-on-exec, TCP_NODELAY, bound to `source` when it is
/// not NULL, signing every segment to and from `peer` with TCP-MD5 (RFC 2385) when `key` is not NULL (at most 80
/// bytes), with outgoing TTL / hop limit `ttl` when it is above 0. Waits up to `timeout_ms` for the handshake.
/// Returns the connected, non-blocking descriptor, or -1 with errno set (ETIMEDOUT after the timeout).
int pylon_tcp_connect(const struct sockaddr *peer, socklen_t peer_length, const struct sockaddr *source,
                      socklen_t source_length, const void *key, int key_length, int ttl, int timeout_ms);

/// Opens a UDP socket for single-hop BFD (RFC 5881) bound to `local` (address and port): close-on-exec,
/// non-blocking, IPv6-only for an IPv6 address, outgoing TTL / hop limit 255. With `only_ttl_255` non-zero, a socket
/// filter makes the kernel discard every datagram that arrives with a TTL / hop limit below 255 (§5: it cannot have
/// come from a directly connected system). Returns the descriptor, or -1 with errno set (EADDRINUSE when the
/// address and port are taken).
int pylon_bfd_socket(const struct sockaddr *local, socklen_t local_length, int only_ttl_255);

/// Bytes the heap holds free (glibc `mallinfo2().fordblks`, all arenas): memory freed by the program but not yet
/// given back to the operating system.
unsigned long pylon_heap_free_bytes(void);

/// Gives every whole free page of the heap back to the operating system (glibc `malloc_trim(0)`).
/// Returns 1 when memory was released, else 0.
int pylon_heap_trim(void);

/// Caps the number of glibc malloc arenas (`mallopt(M_ARENA_MAX)`) for threads that start allocating afterwards.
/// Returns 1 on success, else 0.
int pylon_heap_limit_arenas(int count);

/// Drops this process's mappings of the pages of its executable and shared libraries that are still the files'
/// own (`/proc/self/pagemap`), in every private read-only mapping of a file — code, and read-only data except the
/// pages a relocation (or a debugger's breakpoint) copied — with `madvise(MADV_DONTNEED)`. The pages stay in the
/// page cache; what runs again is mapped again on first use (a minor fault). Writable mappings are never touched.
/// Returns the bytes dropped, or -1 with errno set when `/proc/self/maps` or `/proc/self/pagemap` cannot be read.
long pylon_release_image_pages(void);

#endif
