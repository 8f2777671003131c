// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: the mlx5 mkey cache cleanup shape. */
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include "foo.h"

static bool someone_adding(struct foo_cache *cache)
{
	bool ret;

	mutex_lock(&cache->rb_lock);
	ret = cache->ents[0] && cache->ents[0]->pending;
	mutex_unlock(&cache->rb_lock);
	return ret;
}

static void cache_work_func(struct foo_cache_ent *ent)
{
	if (someone_adding(ent->cache))
		return;
}

static void delayed_cache_work_func(struct work_struct *work)
{
	struct foo_cache_ent *ent = container_of(work, struct foo_cache_ent, dwork.work);

	cache_work_func(ent);
}

void foo_cache_init_ent(struct foo_cache_ent *ent)
{
	INIT_DELAYED_WORK(&ent->dwork, delayed_cache_work_func);
}

void foo_cache_cleanup(struct foo_dev *dev)
{
	int i;

	mutex_lock(&dev->cache.rb_lock);
	for (i = 0; i < 8; i++) {
		struct foo_cache_ent *ent = dev->cache.ents[i];

		if (!ent)
			continue;
		cancel_delayed_work(&ent->dwork);
	}
	mutex_unlock(&dev->cache.rb_lock);
	for (i = 0; i < 8; i++)
		if (dev->cache.ents[i])
			flush_delayed_work(&dev->cache.ents[i]->dwork);
}
