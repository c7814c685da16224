# The storenode: a static binary on an empty image (no shell, no libc).
# Built by deploy/build-images.sh from a directory holding the binaries and
# an empty directory "empty" (scratch has no /tmp and no mkdir).
FROM scratch
COPY storenode /storenode
# /data is the data directory (mount a volume there); /tmp for anything
# that wants a temporary directory. Both owned by nobody, who runs the binary:
# a named volume mounted on /data takes the ownership of the image's /data.
COPY --chown=65534:65534 empty /data
COPY --chown=65534:65534 empty /tmp
USER 65534:65534
ENV LOGBOOK_DATA=/data \
    LOGBOOK_RAFT_LISTEN=0.0.0.0:7100 \
    LOGBOOK_HTTP=:8080
# 7100: Raft transport (storenode to storenode); 8080: /healthz, /readyz,
# /cluster, /health.
EXPOSE 7100 8080
VOLUME ["/data"]
ENTRYPOINT ["/storenode"]
