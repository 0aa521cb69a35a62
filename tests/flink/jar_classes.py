"""The uber-jar's classes, loaded in PyFlink's JVM (through its gateway) as Flink loads a job's jar: in a
class loader of their own whose parent is Flink's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyflink.java_gateway import get_gateway


def jar_class_loader(jar: Path) -> Any:
    """A JVM class loader over `jar`, Flink's own classes (slf4j...) coming from its parent."""
    gateway = get_gateway()
    jvm = gateway.jvm
    urls = gateway.new_array(jvm.java.net.URL, 1)
    urls[0] = jvm.java.io.File(str(jar)).toURI().toURL()
    return jvm.java.net.URLClassLoader(urls, jvm.java.lang.ClassLoader.getSystemClassLoader())


def load_class(loader: Any, name: str) -> Any:
    """The java.lang.Class `name`, initialised, from `loader` (a Py4JJavaError if it is not there)."""
    return get_gateway().jvm.java.lang.Class.forName(name, True, loader)


def build_kafka_consumer(jar: Path, client_settings: dict[str, str]) -> None:
    """Build and close a KafkaConsumer of the jar's kafka-clients with these settings (Py4JJavaError if not).

    Building one creates its SASL channel: the callback handler class is loaded and instantiated, and the JAAS
    login runs its login module, from the thread's context class loader (set to the jar's, as Flink does for
    a job). Nothing is connected to until the consumer is used.
    """
    gateway = get_gateway()
    jvm = gateway.jvm
    loader = jar_class_loader(jar)
    properties = jvm.java.util.Properties()
    deserializer = "org.apache.kafka.common.serialization.ByteArrayDeserializer"
    for key, value in (
        client_settings | {"key.deserializer": deserializer, "value.deserializer": deserializer}
    ).items():
        properties.setProperty(key, value)
    parameter_types = gateway.new_array(jvm.java.lang.Class, 1)
    parameter_types[0] = load_class(loader, "java.util.Properties")
    arguments = gateway.new_array(jvm.java.lang.Object, 1)
    arguments[0] = properties
    consumer_class = load_class(loader, "org.apache.kafka.clients.consumer.KafkaConsumer")
    thread = jvm.java.lang.Thread.currentThread()
    previous = thread.getContextClassLoader()
    thread.setContextClassLoader(loader)
    try:
        consumer = consumer_class.getConstructor(parameter_types).newInstance(arguments)
    finally:
        thread.setContextClassLoader(previous)
    consumer.close()
