/*
 * The pod sandbox's process: it holds the pod's namespaces open and does nothing else until the runtime stops
 * the pod. As PID 1 of a pod that shares its process namespace it also reaps orphans, so they never pile up as
 * zombies. Built static (gcc -Os -static) so the image needs nothing but this binary.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signum) {
  (void)signum;
  _exit(0);
}

static void reap(int signum) {
  (void)signum;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction action = {0};
  sigemptyset(&action.sa_mask);
  action.sa_handler = stop;
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);
  action.sa_handler = reap;
  action.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction(SIGCHLD, &action, NULL);
  for (;;) {
    pause();
  }
}
