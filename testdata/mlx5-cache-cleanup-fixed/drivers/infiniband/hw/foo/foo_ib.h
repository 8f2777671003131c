/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * waitcheck fixture "mlx5-cache-cleanup-fixed": an RDMA driver with a cache of
 * pre-created memory keys, kept filled by one delayed work per bucket
 * (the shape of mlx5's mkey cache, reconstructed).
 */
#ifndef FOO_IB_H
#define FOO_IB_H

#include <linux/auxiliary_bus.h>
#include <linux/workqueue.h>
#include <linux/spinlock.h>
#include <linux/rbtree.h>
#include <linux/mutex.h>
#include <rdma/ib_verbs.h>

#define FOO_CACHE_FIRST_ORDER	2
#define FOO_CACHE_LAST_ORDER	12

struct foo_cache {
	struct workqueue_struct *wq;
	struct mutex rb_lock;		/* protects rb_root */
	struct rb_root rb_root;
	unsigned long last_add;
};

struct foo_cache_ent {
	struct rb_node node;
	struct foo_cache *cache;
	struct delayed_work dwork;

	spinlock_t lock;		/* protects the fields below */
	u32 order;
	u32 stored;
	u32 limit;
	bool disabled;
};

struct foo_ib_dev {
	struct ib_device ib_dev;
	struct auxiliary_device *adev;
	struct foo_cache cache;
	u32 max_keys;
};

/* mr.c */
int foo_cache_init(struct foo_ib_dev *dev);
void foo_cache_cleanup(struct foo_ib_dev *dev);

#endif /* FOO_IB_H */
