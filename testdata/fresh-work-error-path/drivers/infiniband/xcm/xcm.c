// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "fresh-work-error-path": a connection manager's event
 * handler runs under the listener's handler mutex. For a new connection
 * it allocates a context (whose close work takes the handler mutex) and,
 * if the event cannot be delivered, destroys it again, cancel-syncing the
 * close work. That work was only just set up by the allocator and nothing
 * queued it (the ucma shape): the cancel does not wait, no deadlock.
 */
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/slab.h>

struct xcm_id {
	struct mutex handler_mutex;
	void *context;
};

struct xcm_ctx {
	struct xcm_id *id;
	struct work_struct close_work;
};

static void xcm_close_work(struct work_struct *work)
{
	struct xcm_ctx *ctx = container_of(work, struct xcm_ctx, close_work);

	mutex_lock(&ctx->id->handler_mutex);
	ctx->id->context = NULL;
	mutex_unlock(&ctx->id->handler_mutex);
}

static struct xcm_ctx *xcm_alloc_ctx(struct xcm_id *id)
{
	struct xcm_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return NULL;
	ctx->id = id;
	INIT_WORK(&ctx->close_work, xcm_close_work);
	return ctx;
}

static void xcm_destroy_ctx(struct xcm_ctx *ctx)
{
	cancel_work_sync(&ctx->close_work);
	kfree(ctx);
}

static int xcm_deliver(struct xcm_ctx *ctx)
{
	return ctx->id->context ? 0 : -ENOMEM;
}

static int xcm_new_conn(struct xcm_id *id)
{
	struct xcm_ctx *ctx = xcm_alloc_ctx(id);

	if (!ctx)
		return -ENOMEM;
	if (xcm_deliver(ctx))
		goto err_destroy;
	return 0;

err_destroy:
	xcm_destroy_ctx(ctx);
	return -ENOMEM;
}

int xcm_event_handler(struct xcm_id *listen_id)
{
	int ret;

	mutex_lock(&listen_id->handler_mutex);
	ret = xcm_new_conn(listen_id);
	mutex_unlock(&listen_id->handler_mutex);
	return ret;
}
