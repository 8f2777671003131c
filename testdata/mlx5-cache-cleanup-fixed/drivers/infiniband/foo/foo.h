/* SPDX-License-Identifier: GPL-2.0 */
struct foo_cache {
	struct mutex rb_lock;
	struct foo_cache_ent *ents[8];
};

struct foo_dev {
	int id;
	struct foo_cache cache;
};

struct foo_cache_ent {
	struct delayed_work dwork;
	struct foo_cache *cache;
	int pending;
};
