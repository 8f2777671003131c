// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * waitcheck fixture "mlx5-cache-cleanup": cleanup holds cache.rb_lock
 * while it cancel-syncs each bucket's delayed work; the work, through
 * someone_adding(), takes the same rb_lock: a circular wait whenever a
 * bucket's work is running when cleanup starts.
 */
#include <linux/workqueue.h>
#include <linux/jiffies.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include "foo_ib.h"

static bool someone_adding(struct foo_cache *cache)
{
	struct foo_cache_ent *ent;
	struct rb_node *node;
	bool ret;

	mutex_lock(&cache->rb_lock);
	for (node = rb_first(&cache->rb_root); node; node = rb_next(node)) {
		ent = rb_entry(node, struct foo_cache_ent, node);
		spin_lock_irq(&ent->lock);
		ret = ent->stored < ent->limit;
		spin_unlock_irq(&ent->lock);
		if (ret) {
			mutex_unlock(&cache->rb_lock);
			return true;
		}
	}
	mutex_unlock(&cache->rb_lock);
	return false;
}

static void __cache_work_func(struct foo_cache_ent *ent)
{
	struct foo_cache *cache = ent->cache;
	bool shrink;

	spin_lock_irq(&ent->lock);
	if (ent->disabled) {
		spin_unlock_irq(&ent->lock);
		return;
	}
	if (ent->stored < ent->limit) {
		ent->stored++;		/* a key created for the bucket */
		cache->last_add = jiffies;
		queue_delayed_work(cache->wq, &ent->dwork, 0);
	}
	shrink = ent->stored > 2 * ent->limit;
	spin_unlock_irq(&ent->lock);

	if (!shrink)
		return;

	/* do not shrink while any bucket is still being filled */
	if (someone_adding(cache)) {
		queue_delayed_work(cache->wq, &ent->dwork, 300 * HZ);
		return;
	}

	spin_lock_irq(&ent->lock);
	ent->stored--;
	spin_unlock_irq(&ent->lock);
}

static void delayed_cache_work_func(struct work_struct *work)
{
	struct foo_cache_ent *ent;

	ent = container_of(work, struct foo_cache_ent, dwork.work);
	__cache_work_func(ent);
}

static void foo_cache_insert(struct foo_cache *cache, struct foo_cache_ent *ent)
{
	struct rb_node **link = &cache->rb_root.rb_node, *parent = NULL;
	struct foo_cache_ent *cur;

	while (*link) {
		parent = *link;
		cur = rb_entry(parent, struct foo_cache_ent, node);
		link = ent->order < cur->order ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&ent->node, parent, link);
	rb_insert_color(&ent->node, &cache->rb_root);
}

int foo_cache_init(struct foo_ib_dev *dev)
{
	struct foo_cache_ent *ent;
	u32 order;

	mutex_init(&dev->cache.rb_lock);
	dev->cache.rb_root = RB_ROOT;
	dev->cache.wq = alloc_ordered_workqueue("foo_cache", WQ_MEM_RECLAIM);
	if (!dev->cache.wq)
		return -ENOMEM;

	mutex_lock(&dev->cache.rb_lock);
	for (order = FOO_CACHE_FIRST_ORDER; order <= FOO_CACHE_LAST_ORDER; order++) {
		ent = kzalloc(sizeof(*ent), GFP_KERNEL);
		if (!ent)
			break;	/* a smaller cache still works */
		ent->order = order;
		ent->limit = dev->max_keys >> order;
		ent->cache = &dev->cache;
		spin_lock_init(&ent->lock);
		INIT_DELAYED_WORK(&ent->dwork, delayed_cache_work_func);
		foo_cache_insert(&dev->cache, ent);
		queue_delayed_work(dev->cache.wq, &ent->dwork, 0);
	}
	mutex_unlock(&dev->cache.rb_lock);
	return 0;
}

void foo_cache_cleanup(struct foo_ib_dev *dev)
{
	struct rb_root *root = &dev->cache.rb_root;
	struct foo_cache_ent *ent;
	struct rb_node *node;

	if (!dev->cache.wq)
		return;

	mutex_lock(&dev->cache.rb_lock);
	for (node = rb_first(root); node; node = rb_next(node)) {
		ent = rb_entry(node, struct foo_cache_ent, node);
		spin_lock_irq(&ent->lock);
		ent->disabled = true;
		spin_unlock_irq(&ent->lock);
		cancel_delayed_work_sync(&ent->dwork);
	}

	node = rb_first(root);
	while (node) {
		ent = rb_entry(node, struct foo_cache_ent, node);
		node = rb_next(node);
		rb_erase(&ent->node, root);
		kfree(ent);
	}
	mutex_unlock(&dev->cache.rb_lock);

	destroy_workqueue(dev->cache.wq);
	dev->cache.wq = NULL;
}
