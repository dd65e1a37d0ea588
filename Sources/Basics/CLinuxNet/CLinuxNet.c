#define _GNU_SOURCE
#include "CLinuxNet.h"
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/mman.h>

/// Closes `fd` after a failed call, keeping that call's errno; returns -1.
static int close_failed(int fd) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

// Offsets into an Ethernet frame without VLAN tag.
enum { ETH_HEADER = 14, IPV6_NEXT_HEADER = ETH_HEADER + 6, ICMPV6_TYPE = ETH_HEADER + 40 };

static struct sock_filter arp_in[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 1),     // own frames: drop
    BPF_STMT(BPF_RET | BPF_K, 0),
    BPF_STMT(BPF_RET | BPF_K, 0xffff),
};

static struct sock_filter ns_in[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 6, 0),     // own frames: drop
    BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, ICMPV6_TYPE, 0, 5),          // too short to tell: accept
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, IPV6_NEXT_HEADER),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 2),                   // not ICMPv6: drop
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ICMPV6_TYPE),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 1, 0),                  // solicitation: accept
    BPF_STMT(BPF_RET | BPF_K, 0),
    BPF_STMT(BPF_RET | BPF_K, 0xffff),
};

int pylon_packet_socket(int ifindex, uint16_t ethertype, pylon_packet_filter filter) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sock_fprog program;
    if (filter == PYLON_FILTER_ARP_IN) {
        program.len = sizeof(arp_in) / sizeof(arp_in[0]);
        program.filter = arp_in;
    } else {
        program.len = sizeof(ns_in) / sizeof(ns_in[0]);
        program.filter = ns_in;
    }
    struct sockaddr_ll address;
    memset(&address, 0, sizeof(address));
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ethertype);
    address.sll_ifindex = ifindex;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) < 0 ||
        bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        return close_failed(fd);
    }
    return fd;
}

long pylon_packet_send(int fd, int ifindex, const void *frame, unsigned long length) {
    struct sockaddr_ll address;
    memset(&address, 0, sizeof(address));
    address.sll_family = AF_PACKET;
    address.sll_ifindex = ifindex;
    address.sll_halen = ETH_ALEN;
    if (length >= ETH_ALEN) memcpy(address.sll_addr, frame, ETH_ALEN);
    return sendto(fd, frame, length, MSG_DONTWAIT, (struct sockaddr *)&address, sizeof(address));
}

int pylon_netlink_socket(uint32_t groups) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct sockaddr_nl address;
    memset(&address, 0, sizeof(address));
    address.nl_family = AF_NETLINK;
    address.nl_groups = groups;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        return close_failed(fd);
    }
    return fd;
}

int pylon_netlink_request_socket(int protocol, uint32_t groups, int timeout_ms) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) return -1;
    int one = 1;
    int buffer = 4 << 20;
    struct timeval timeout = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    struct sockaddr_nl address;
    memset(&address, 0, sizeof(address));
    address.nl_family = AF_NETLINK;
    address.nl_groups = groups;
    if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) < 0 ||
        (groups != 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer)) < 0) ||
        bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        return close_failed(fd);
    }
    return fd;
}

int pylon_enter_network_namespace(int namespace_fd) { return setns(namespace_fd, CLONE_NEWNET); }

int pylon_set_tx_checksum(const char *name, int enabled, int *was_enabled) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    struct ethtool_value value = {.cmd = ETHTOOL_GTXCSUM};
    request.ifr_data = (char *)&value;
    if (ioctl(fd, SIOCETHTOOL, &request) < 0) goto fail;
    *was_enabled = value.data != 0;
    value.cmd = ETHTOOL_STXCSUM;
    value.data = enabled ? 1 : 0;
    if (ioctl(fd, SIOCETHTOOL, &request) < 0) goto fail;
    close(fd);
    return 0;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

extern char **environ;

int pylon_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

/// Makes descriptor `from` the child's descriptor `to`: /dev/null when `from` is -1 (opened with `flags`), nothing
/// when it already is.
static void spawn_descriptor(posix_spawn_file_actions_t *actions, int from, int to, int flags) {
    if (from == -1) {
        posix_spawn_file_actions_addopen(actions, to, "/dev/null", flags, 0);
    } else if (from != to) {
        posix_spawn_file_actions_adddup2(actions, from, to);
    }
}

int pylon_spawn(const char *path, char *const argv[], char *const envp[], const pylon_spawn_options *options) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t none, all;
    pid_t pid = -1;
    int status;
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    posix_spawn_file_actions_init(&actions);
    spawn_descriptor(&actions, options->stdin_fd, 0, O_RDONLY);
    if (options->log != NULL) {
        posix_spawn_file_actions_addopen(&actions, 1, options->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
    } else {
        spawn_descriptor(&actions, options->stdout_fd, 1, O_WRONLY);
        if (options->stderr_fd == -2) {
            posix_spawn_file_actions_adddup2(&actions, 1, 2);
        } else {
            spawn_descriptor(&actions, options->stderr_fd, 2, O_WRONLY);
        }
    }
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawnattr_init(&attributes);
    if (options->new_session) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attributes, flags);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigdefault(&attributes, &all);
    if (options->search_path) {
        status = posix_spawnp(&pid, path, &actions, &attributes, argv, envp);
    } else {
        status = posix_spawn(&pid, path, &actions, &attributes, argv, envp);
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (status != 0) {
        errno = status;
        return -1;
    }
    return pid;
}

unsigned long pylon_heap_free_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return (unsigned long)info.fordblks;
}

int pylon_heap_trim(void) {
    return malloc_trim(0);
}

int pylon_heap_limit_arenas(int count) {
    return mallopt(M_ARENA_MAX, count);
}

/// Drops the pages of [start, end) that are still the file's own (pagemap bit 61 "file page", bit 63 "present"):
/// those a write or a relocation copied stay. Only for mappings nobody can write (no PROT_WRITE), so no page can
/// turn into a private copy between the read of its entry and the madvise. Returns the bytes dropped.
static long release_unmodified_pages(int pagemap, unsigned long start, unsigned long end, unsigned long page) {
    uint64_t entries[512];
    unsigned long run_start = 0, at = start;
    long released = 0;
    while (at < end) {
        unsigned long count = (end - at) / page;
        if (count > 512) count = 512;
        ssize_t got = pread(pagemap, entries, count * sizeof entries[0], (off_t)(at / page * sizeof entries[0]));
        if (got <= 0) break;
        count = (unsigned long)got / sizeof entries[0];
        for (unsigned long i = 0; i < count; i++, at += page) {
            int file_page = (entries[i] >> 63 & 1) && (entries[i] >> 61 & 1);
            if (file_page && run_start == 0) run_start = at;
            if (!file_page && run_start != 0) {
                if (madvise((void *)run_start, at - run_start, MADV_DONTNEED) == 0) released += (long)(at - run_start);
                run_start = 0;
            }
        }
    }
    if (run_start != 0 && madvise((void *)run_start, at - run_start, MADV_DONTNEED) == 0)
        released += (long)(at - run_start);
    return released;
}

long pylon_release_image_pages(void) {
    FILE *maps = fopen("/proc/self/maps", "re");
    int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    char line[4352];
    long released = 0;
    if (maps == NULL || pagemap < 0) {
        int saved = errno;
        if (maps != NULL) fclose(maps);
        if (pagemap >= 0) close(pagemap);
        errno = saved;
        return -1;
    }
    while (fgets(line, sizeof line, maps) != NULL) {
        unsigned long start, end;
        char permissions[5];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &start, &end, permissions, &path_at) != 3) continue;
        // Private read-only file mappings: code, and data partly relocated at start (those copies stay).
        if (path_at == 0 || line[path_at] != '/') continue;
        if (strcmp(permissions, "r-xp") != 0 && strcmp(permissions, "r--p") != 0) continue;
        released += release_unmodified_pages(pagemap, start, end, page);
    }
    fclose(maps);
    close(pagemap);
    return released;
}

int pylon_tcp_connect(const struct sockaddr *peer, socklen_t peer_length, const struct sockaddr *source,
                      socklen_t source_length, const void *key, int key_length, int ttl, int timeout_ms) {
    if (key != NULL && (key_length < 0 || key_length > TCP_MD5SIG_MAXKEYLEN)) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(peer->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) goto fail;
    if (key != NULL) {
        struct tcp_md5sig md5;
        memset(&md5, 0, sizeof md5);
        memcpy(&md5.tcpm_addr, peer, peer_length);
        md5.tcpm_keylen = (uint16_t)key_length;
        memcpy(md5.tcpm_key, key, (size_t)key_length);
        if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &md5, sizeof md5) < 0) goto fail;
    }
    if (ttl > 0) {
        int rc = peer->sa_family == AF_INET6
            ? setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl)
            : setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
        if (rc < 0) goto fail;
    }
    if (source != NULL && bind(fd, source, source_length) < 0) goto fail;
    if (connect(fd, peer, peer_length) < 0) {
        if (errno != EINPROGRESS) goto fail;
        struct pollfd waiting = {.fd = fd, .events = POLLOUT};
        int ready;
        do {
            ready = poll(&waiting, 1, timeout_ms);
        } while (ready < 0 && errno == EINTR);
        if (ready < 0) goto fail;
        if (ready == 0) {
            errno = ETIMEDOUT;
            goto fail;
        }
        int error = 0;
        socklen_t length = sizeof error;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) goto fail;
        if (error != 0) {
            errno = error;
            goto fail;
        }
    }
    return fd;
fail:
    return close_failed(fd);
}

int pylon_bfd_socket(const struct sockaddr *local, socklen_t local_length, int only_ttl_255) {
    int v6 = local->sa_family == AF_INET6;
    int fd = socket(local->sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1, ttl = 255;
    if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) goto fail;
    if ((v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl)
            : setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl)) < 0)
        goto fail;
    if (only_ttl_255) {
        // The filter runs with the UDP header at offset 0; SKF_NET_OFF reaches back into the IP header, where the
        // TTL is byte 8 (IPv4) and the hop limit byte 7 (IPv6). Accept the whole datagram or nothing.
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)(SKF_NET_OFF + (v6 ? 7 : 8))),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 255, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
            BPF_STMT(BPF_RET | BPF_K, 0),
        };
        struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
        if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0) goto fail;
    }
    if (bind(fd, local, local_length) < 0) goto fail;
    return fd;
fail:
    return close_failed(fd);
}
