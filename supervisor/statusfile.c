/* statusfile.c: the status JSON written atomically (temp, fsync, rename) off the loop. */
#include "supervisor/statusfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/log.h"

struct statusfile {
	uv_loop_t *loop;
	char *path, *tmp, *dir;
	uv_work_t req;
	char *writing;             /* text of the write in flight */
	char *next;                /* text waiting for the next write */
	int error;                 /* errno of the write in flight, 0 = ok */
	int last_error;            /* errno last logged, so a failure is logged once */
	bool inflight, freeing;
};

/* Write the whole text to fd; 0 or an errno. */
static int write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, text, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		text += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Thread pool: temp file, write, fsync, rename over the file, fsync the directory. */
static void do_write(uv_work_t *req)
{
	struct statusfile *f = req->data;
	int fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	f->error = 0;
	if (fd < 0) {
		f->error = errno;
		return;
	}
	f->error = write_all(fd, f->writing, strlen(f->writing));
	if (!f->error && fsync(fd) < 0)
		f->error = errno;
	if (close(fd) < 0 && !f->error)
		f->error = errno;
	if (!f->error && rename(f->tmp, f->path) < 0)
		f->error = errno;
	if (f->error) {
		unlink(f->tmp);
		return;
	}
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

static void start_write(struct statusfile *f);

static void destroy(struct statusfile *f)
{
	free(f->writing);
	free(f->next);
	free(f->path);
	free(f->tmp);
	free(f->dir);
	free(f);
}

static void after_write(uv_work_t *req, int status)
{
	struct statusfile *f = req->data;
	f->inflight = false;
	free(f->writing);
	f->writing = NULL;
	if (status == 0 && f->error && f->error != f->last_error)
		log_warn("[health] status_file '%s': cannot write: %s", f->path, strerror(f->error));
	else if (status == 0 && !f->error && f->last_error)
		log_info("[health] status_file '%s': written again", f->path);
	if (status == 0)
		f->last_error = f->error;
	if (f->next)
		start_write(f);
	else if (f->freeing)
		destroy(f);
}

static void start_write(struct statusfile *f)
{
	f->writing = f->next;
	f->next = NULL;
	f->req.data = f;
	if (uv_queue_work(f->loop, &f->req, do_write, after_write) == 0) {
		f->inflight = true;
		return;
	}
	free(f->writing);
	f->writing = NULL;
}

void statusfile_write(struct statusfile *f, char *text)
{
	if (!text)
		return;
	free(f->next);
	f->next = text;
	if (!f->inflight)
		start_write(f);
}

bool statusfile_idle(const struct statusfile *f)
{
	return !f->inflight && !f->next;
}

void statusfile_free(struct statusfile *f)
{
	if (!f)
		return;
	if (f->inflight) {
		f->freeing = true;
		return;
	}
	destroy(f);
}

struct statusfile *statusfile_new(uv_loop_t *loop, const char *path, char *err, size_t errlen)
{
	struct statusfile *f = calloc(1, sizeof *f);
	char *copy = strdup(path);
	struct stat st;
	if (!f || !copy || asprintf(&f->tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	f->loop = loop;
	f->path = strdup(path);
	f->dir = strdup(dirname(copy));
	if (!f->path || !f->dir) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	int serr = stat(f->dir, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (serr) {
		snprintf(err, errlen, "[health] status_file '%s': directory '%s': %s", path, f->dir,
			 serr == ENOENT ? "does not exist" : strerror(serr));
		goto fail;
	}
	int fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "[health] status_file '%s': cannot write in '%s': %s", path,
			 f->dir, strerror(errno));
		goto fail;
	}
	close(fd);
	unlink(f->tmp);
	free(copy);
	return f;
fail:
	free(copy);
	if (f)
		destroy(f);
	return NULL;
}
