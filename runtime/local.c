/*  local.c — an actor's local queue: frames from threads of the same
    process, handed over without ZeroMQ.
    SPDX-License-Identifier: MPL-2.0

    Between two threads of one process, a ZeroMQ inproc pipe costs about
    ten system calls per message when the receiver sleeps and wakes (the
    pipe's signaller, the poll on it, reading it to EAGAIN). Here the
    sender puts the frame it would have sent (the same bytes: a message,
    or a batch of them, header and MessagePack body) on the receiver's
    queue, a FIFO under a mutex, and writes the receiver's eventfd only
    when the receiver said it is going to sleep. A receiver that is awake,
    or watching for mail (limits.spin_us), takes it without a system call
    on either side, and splits and decodes it as any frame.
    docs/architecture.md, "Local delivery", says when this is used. */
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

struct orcs__local_frame_t {
    orcs__local_frame_t *next; // newer
    zmq_msg_t frame;           // the bytes
};

bool
orcs__local_eligible(const orcs__entry_t *entry)
{
    return entry && entry->local_fd >= 0 && !entry->remote && !entry->is_client
           && !entry->is_pool;
}

void
orcs__local_push(orcs__entry_t *entry, zmq_msg_t *frame)
{
    orcs__local_frame_t *node = orcs_malloc(sizeof *node);
    node->next = NULL;
    zmq_msg_init(&node->frame);
    zmq_msg_move(&node->frame, frame);
    pthread_mutex_lock(&entry->local_lock);
    if (entry->local_tail)
        entry->local_tail->next = node;
    else
        entry->local_head = node;
    entry->local_tail = node;
    bool wake = entry->local_sleeping;
    entry->local_sleeping = false;
    pthread_mutex_unlock(&entry->local_lock);
    if (wake) {
        // Closed only with the directory, after every thread stopped.
        uint64_t one = 1;
        ssize_t n = write(entry->local_fd, &one, sizeof one);
        (void) n; // a full counter (2^64 - 2) still wakes the reader
    }
}

bool
orcs__local_pop(orcs__entry_t *entry, zmq_msg_t *frame)
{
    pthread_mutex_lock(&entry->local_lock);
    orcs__local_frame_t *node = entry->local_head;
    if (node) {
        entry->local_head = node->next;
        if (!entry->local_head)
            entry->local_tail = NULL;
    }
    entry->local_sleeping = false;
    pthread_mutex_unlock(&entry->local_lock);
    if (!node)
        return false;
    zmq_msg_init(frame);
    zmq_msg_move(frame, &node->frame);
    free(node);
    return true;
}

bool
orcs__local_arm(orcs__entry_t *entry)
{
    pthread_mutex_lock(&entry->local_lock);
    bool waiting = entry->local_head != NULL;
    entry->local_sleeping = !waiting;
    pthread_mutex_unlock(&entry->local_lock);
    return waiting;
}

void
orcs__local_clear_wakeup(orcs__entry_t *entry)
{
    uint64_t count;
    ssize_t n = read(entry->local_fd, &count, sizeof count);
    (void) n; // EAGAIN: nothing was left to clear
}

void
orcs__local_drop(orcs__entry_t *entry)
{
    if (!entry || entry->local_fd < 0)
        return;
    zmq_msg_t frame;
    while (orcs__local_pop(entry, &frame)) {
        atomic_fetch_sub_explicit(
            &entry->queued,
            orcs__frame_count(zmq_msg_data(&frame), zmq_msg_size(&frame)),
            memory_order_relaxed);
        zmq_msg_close(&frame);
    }
}

void
orcs__local_init(orcs__entry_t *entry, bool queue)
{
    pthread_mutex_init(&entry->local_lock, NULL);
    entry->local_head = entry->local_tail = NULL;
    entry->local_sleeping = false;
    // Without an eventfd (a client's entry, or no descriptors left) the
    // entry's messages go through ZeroMQ.
    entry->local_fd = queue ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
}

void
orcs__local_fini(orcs__entry_t *entry)
{
    orcs__local_drop(entry);
    if (entry->local_fd >= 0)
        close(entry->local_fd);
    entry->local_fd = -1;
    pthread_mutex_destroy(&entry->local_lock);
}
