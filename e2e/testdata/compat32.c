/* A 32-bit program (built with gcc -m32 -static) for the end-to-end tests:
 * in the directory argv[1] it writes "w" to a file made there, truncates
 * it, renames it and unlinks it, each through the i386 system call ABI. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char a[4096], b[4096];
	if (argc != 2)
		return 2;
	snprintf(a, sizeof(a), "%s/c32", argv[1]);
	snprintf(b, sizeof(b), "%s/c32-moved", argv[1]);
	int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "compat32\n", 9) != 9 || ftruncate(fd, 3) != 0 || close(fd) != 0)
		return 1;
	if (rename(a, b) != 0 || unlink(b) != 0)
		return 1;
	return 0;
}
