# nats-server built from the Go module proxy (the version Logbook's modules
# require), static, with a configuration matching Logbook's defaults.
FROM scratch
COPY nats-server /nats-server
COPY nats.conf /etc/nats/nats.conf
COPY --chown=65534:65534 empty /tmp
USER 65534:65534
# 4222: clients; 8222: monitoring (/healthz, /varz, ...).
EXPOSE 4222 8222
ENTRYPOINT ["/nats-server"]
CMD ["-c", "/etc/nats/nats.conf"]
