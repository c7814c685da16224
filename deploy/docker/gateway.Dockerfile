# The gateway: stateless, a static binary on an empty image.
FROM scratch
COPY gateway /gateway
COPY --chown=65534:65534 empty /tmp
USER 65534:65534
ENTRYPOINT ["/gateway"]
