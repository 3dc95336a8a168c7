/* member.c: heartbeats, leadership changes, self-fencing, own tokens, leaving. */
#include "supervisor/member.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/exitcode.h"
#include "supervisor/health.h"
#include "supervisor/cronsched.h"
#include "supervisor/log.h"
#include "supervisor/pgarray.h"
#include "supervisor/work.h"

static void on_fence(uv_timer_t *t);

/* Drop every token: this node stops acting as their owner. */
static void drop_tokens(struct node *n)
{
	memset(n->mine, 0, (size_t)n->cfg->total_tokens);
	n->owned = 0;
	n->token_version = -1;
}

/* Arm the fence timer relative to the last heartbeat the database accepted. */
static void arm_fence(struct node *n)
{
	uint64_t after = (uint64_t)(config_fence_after_sec(n->cfg) * 1000.0);
	uint64_t age = node_now_ms(n) - n->hb_ok_ms;
	uv_timer_start(&n->fence_timer, on_fence, age < after ? after - age : 0, 0);
}

static void on_fence(uv_timer_t *t)
{
	struct node *n = t->data;
	if (n->state == NODE_FENCED || n->state == NODE_DRAINING || n->state == NODE_STOPPED)
		return;
	if (node_now_ms(n) - n->hb_ok_ms < (uint64_t)(config_fence_after_sec(n->cfg) * 1000.0)) {
		arm_fence(n); /* a heartbeat or registration renewed the lease since */
		return;
	}
	log_error("self-fencing: no heartbeat accepted for %.1f s (timeout %d s); "
		  "releasing %d tokens locally until the database answers again",
		  (double)(node_now_ms(n) - n->hb_ok_ms) / 1000.0,
		  n->cfg->heartbeat_timeout_sec, n->owned);
	node_set_state(n, NODE_FENCED);
	drop_tokens(n);
	leader_stop(n, "self-fenced");
	n->is_leader = false;
	if (n->work)
		work_fence(n->work);
}

/*
 * True while the last accepted heartbeat is younger than fence_after. Checked
 * before starting or claiming work: after a SIGSTOP or a long stall, I/O
 * callbacks (a child's exit) run before the overdue fence timer, and must not
 * start a task the cluster may already have handed to another node.
 */
bool member_lease_ok(struct node *n)
{
	if (n->state == NODE_FENCED || !n->registered)
		return false;
	uv_update_time(n->loop);
	uint64_t after = (uint64_t)(config_fence_after_sec(n->cfg) * 1000.0);
	if (node_now_ms(n) - n->hb_ok_ms < after)
		return true;
	on_fence(&n->fence_timer);
	return false;
}

static void on_claim_leader(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res)
			log_error("claiming leadership failed: %s", PQresultErrorMessage(res));
		return;
	}
	if (PQntuples(res) == 1)
		node_set_leader(n, true, atoll(PQgetvalue(res, 0, 0)), n->cfg->node);
}

static void register_again(struct node *n);

static void on_heartbeat(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	char tbuf[32];
	(void)c;
	n->hb_inflight = false;
	if (!res || n->state == NODE_DRAINING || n->state == NODE_STOPPED)
		return;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_error("heartbeat failed: %s", PQresultErrorMessage(res));
		return;
	}
	if (atoi(PQgetvalue(res, 0, 0)) != 1) {
		register_again(n);
		return;
	}
	n->hb_ok_ms = n->hb_sent_ms;
	log_debug("heartbeat accepted in %llu ms",
		  (unsigned long long)(node_now_ms(n) - n->hb_sent_ms));
	arm_fence(n);
	if (n->state == NODE_FENCED) {
		log_info("heartbeat accepted again: resuming as an owner");
		node_set_state(n, n->tokens_received ? NODE_RUNNING : NODE_COLD_START);
		if (n->work)
			work_unfence(n->work);
	}
	int64_t term = atoll(PQgetvalue(res, 0, 1));
	const char *leader = PQgetvalue(res, 0, 2);
	bool me = !strcmp(PQgetvalue(res, 0, 3), n->incarnation);
	node_set_leader(n, me, term, leader);
	n->is_heir = !strcmp(PQgetvalue(res, 0, 6), n->incarnation);
	if (n->is_heir || me) /* re-armed every beat: it fires only for a hung node */
		node_watch_expiry(n, PQgetvalue(res, 0, 7));
	/* The grace after connecting is over: sessions that ended meanwhile count now. */
	bool checks = !strcmp(node_session_param(n), "true");
	if (checks && !n->session_checks)
		leader_tick(n);
	n->session_checks = checks;
	watch_target(&n->watch, PQgetisnull(res, 0, 8) ? NULL : PQgetvalue(res, 0, 8));
	if (!me && !strcmp(PQgetvalue(res, 0, 5), n->incarnation)) {
		const char *p[] = {n->cfg->node, n->incarnation,
				   node_timeout_param(n, tbuf, sizeof tbuf), node_session_param(n)};
		pg_query(&n->pg, n->sql.sql[STORE_CLAIM_LEADER], 4, p, on_claim_leader, n);
	}
	if (atoll(PQgetvalue(res, 0, 4)) != n->token_version)
		node_fetch_tokens(n);
}

void member_heartbeat(struct node *n)
{
	char key[16], tbuf[32];
	if (n->hb_inflight || !n->registered || !pg_ready(&n->pg))
		return;
	snprintf(key, sizeof key, "%d", n->session_key);
	const char *p[] = {n->cfg->node, n->incarnation, n->session_locked ? key : NULL,
			   node_timeout_param(n, tbuf, sizeof tbuf), node_session_param(n)};
	n->hb_sent_ms = node_now_ms(n);
	if (pg_query(&n->pg, n->sql.sql[STORE_HEARTBEAT], 5, p, on_heartbeat, n) == 0)
		n->hb_inflight = true;
}

static void on_hb_timer(uv_timer_t *t)
{
	member_heartbeat(t->data);
}

/*
 * The leader's full look, every rebalance_check_interval_sec: it rereads the
 * token and lock tables too. Everything else comes as it happens: joins,
 * leaves and lock changes by NOTIFY, a crash by the watching node's "gone"
 * (watch.c), a hung node by the expiry timer.
 */
static void on_leader_timer(uv_timer_t *t)
{
	struct node *n = t->data;
	n->leader_state.full_ms = 0; /* due now, whatever the timer's jitter */
	leader_tick(n);
}

/* A heartbeat expires: the leader removes the node, the heir checks on the leader. */
static void on_expiry_timer(uv_timer_t *t)
{
	struct node *n = t->data;
	if (n->leader_state.active)
		leader_tick(n);
	else if (n->is_heir)
		member_heartbeat(n);
}

/* The leader's full look every rebalance_check_interval_sec from now. */
static void arm_leader_timer(struct node *n)
{
	uint64_t every = (uint64_t)n->cfg->rebalance_check_interval_sec * 1000;
	uv_timer_start(&n->leader_timer, on_leader_timer, every, every);
}

static void on_leader_soon(uv_timer_t *t)
{
	struct node *n = t->data;
	leader_tick(n);
	arm_leader_timer(n);
}

void member_leader_tick_in(struct node *n, uint64_t ms)
{
	uv_timer_start(&n->leader_timer, on_leader_soon, ms, 0);
}

void node_watch_expiry(struct node *n, const char *sec)
{
	if (!sec || !*sec)
		return;
	double s = atof(sec);
	uint64_t ms = s > 0 ? (uint64_t)(s * 1000.0) : 0;
	uv_timer_start(&n->expiry_timer, on_expiry_timer, ms + 20, 0);
}

/*
 * Fallback poll for token changes, should NOTIFY and heartbeats both miss one.
 * Each heartbeat compares the token version, so when heartbeats come at least
 * as often as this poll and succeed, the poll is skipped.
 */
static void on_refresh_timer(uv_timer_t *t)
{
	struct node *n = t->data;
	uint64_t hb = (uint64_t)n->cfg->heartbeat_interval_sec * 1000;
	if (n->tokens_received && uv_timer_get_repeat(t) >= hb && n->hb_ok_ms &&
	    n->hb_ok_ms + 2 * hb > node_now_ms(n))
		return;
	node_fetch_tokens(n);
}

/* Poll at the initial interval until tokens arrive, then at the steady one. */
static void arm_refresh(struct node *n)
{
	int sec = n->tokens_received ? n->cfg->token_refresh_steady_interval_sec
				     : n->cfg->token_refresh_initial_interval_sec;
	uint64_t ms = (uint64_t)sec * 1000;
	if (uv_timer_get_repeat(&n->refresh_timer) != ms)
		uv_timer_start(&n->refresh_timer, on_refresh_timer, ms, ms);
}

void member_start(struct node *n)
{
	uint64_t hb = (uint64_t)n->cfg->heartbeat_interval_sec * 1000;
	if (!uv_is_active((uv_handle_t *)&n->hb_timer)) {
		uv_timer_start(&n->hb_timer, on_hb_timer, hb, hb);
		arm_leader_timer(n);
		arm_fence(n);
	}
	arm_refresh(n);
	member_heartbeat(n);
}

/* Our row is gone: the cluster declared this incarnation dead. Rejoin. */
static void register_again(struct node *n)
{
	log_warn("this node's heartbeat expired (the cluster may have taken over its work); "
		 "rejoining as a new incarnation");
	drop_tokens(n);
	if (n->work) {
		work_fence(n->work);
		work_unfence(n->work);
	}
	leader_stop(n, "removed from the cluster");
	n->is_leader = false;
	n->registered = false;
	n->tokens_received = false;
	node_set_state(n, NODE_STARTING);
	pg_reset(&n->pg, "rejoining");
}

static void on_fetch(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	n->fetch_inflight = false;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || n->state == NODE_FENCED ||
	    n->state == NODE_DRAINING || n->state == NODE_STOPPED)
		return;
	if (PQntuples(res) != 1)
		return;
	int gained = 0, lost = 0;
	for (int col = 1; col <= 2; col++) {
		const char *p = PQgetvalue(res, 0, col);
		bool mine = col == 1;
		int t;
		while (pglist_next(&p, &t)) {
			if (t >= n->cfg->total_tokens)
				continue;
			if (mine && !n->mine[t])
				gained++;
			else if (!mine && n->mine[t])
				lost++;
			n->mine[t] = mine;
		}
	}
	n->owned += gained - lost;
	n->token_version = atoll(PQgetvalue(res, 0, 0));
	if (gained || lost) {
		log_info("tokens: +%d -%d, now %d of %d (version %lld)", gained, lost, n->owned,
			 n->cfg->total_tokens, (long long)n->token_version);
		n->token_changes++;
		health_changed(n);
		if (n->work)
			work_tokens_changed(n->work);
		/* A new distribution left large freed buffers (the leader's commit
		 * arrays, this result): give their pages back to the system. */
		malloc_trim(0);
	}
	if (n->owned > 0 || n->token_version > 0) {
		n->tokens_received = true;
		if (n->state == NODE_COLD_START)
			node_set_state(n, NODE_RUNNING);
		if (n->state == NODE_RUNNING)
			sdnotify_ready(&n->notify); /* once: registered and tokens received */
		arm_refresh(n);
	}
	if (n->fetch_again) {
		n->fetch_again = false;
		node_fetch_tokens(n);
	}
}

void node_fetch_tokens(struct node *n)
{
	char since[24];
	if (n->state == NODE_FENCED || !n->registered)
		return;
	if (n->fetch_inflight) {
		n->fetch_again = true;
		return;
	}
	snprintf(since, sizeof since, "%lld", (long long)n->token_version);
	const char *p[] = {n->cfg->node, since};
	if (pg_query(&n->pg, n->sql.sql[STORE_FETCH_MINE], 2, p, on_fetch, n) == 0)
		n->fetch_inflight = true;
}

void member_notify(struct node *n, const char *payload)
{
	if (!n->registered || n->state == NODE_DRAINING)
		return;
	if (!strncmp(payload, "tokens ", 7)) {
		if (atoll(payload + 7) > n->token_version)
			node_fetch_tokens(n);
	} else if (!strcmp(payload, "lock")) {
		leader_locks_changed(n);
	} else if (!strcmp(payload, "leave")) {
		/* The leader may be gone: look now rather than at the next beat. */
		member_heartbeat(n);
		leader_leave_seen(n);
	} else if (!strcmp(payload, "join") || !strncmp(payload, "gone ", 5)) {
		/* Membership changed: the leader looks now, and every node's next
		 * heartbeat names the node it should watch from now on (the heir
		 * whose leader is gone takes over with it). */
		leader_tick(n);
		member_heartbeat(n);
	} else if (!strcmp(payload, "cron") && n->cron) {
		cronsched_notify(n->cron);
	}
}

void member_disconnected(struct node *n)
{
	n->hb_inflight = n->fetch_inflight = false;
	n->session_locked = n->session_checks = false;
	leader_stop(n, "database connection lost");
	n->is_leader = false;
}

static void on_leave(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		log_info("left the cluster: released %s tokens%s", PQgetvalue(res, 0, 1),
			 atoi(PQgetvalue(res, 0, 2)) ? " and the leadership" : "");
	else
		log_warn("could not leave the cluster cleanly%s%s; the others will see this "
			 "node dead after %d s", res ? ": " : "",
			 res ? PQresultErrorMessage(res) : "", n->cfg->heartbeat_timeout_sec);
	node_shutdown(n, n->exit_code);
}

static void on_leave_timeout(uv_timer_t *t)
{
	struct node *n = t->data;
	log_warn("leaving the cluster timed out; the others will see this node dead after %d s",
		 n->cfg->heartbeat_timeout_sec);
	node_shutdown(n, n->exit_code);
}

void member_leave(struct node *n)
{
	node_set_state(n, NODE_DRAINING);
	drop_tokens(n);
	leader_stop(n, "leaving");
	uv_timer_stop(&n->hb_timer);
	uv_timer_stop(&n->leader_timer);
	uv_timer_stop(&n->fence_timer);
	uv_timer_stop(&n->expiry_timer);
	uv_timer_stop(&n->refresh_timer);
	const char *p[] = {n->cfg->node, n->incarnation, n->sql.channel};
	if (!n->registered ||
	    pg_query(&n->pg, n->sql.sql[STORE_LEAVE], 3, p, on_leave, n) < 0) {
		log_warn("not registered or no database connection: stopping without a "
			 "clean leave");
		node_shutdown(n, n->exit_code);
		return;
	}
	uv_timer_start(&n->leave_timer, on_leave_timeout, 5000, 0);
}
