//! The WSDL of the SOAP endpoint, at NetSuite's path form `/wsdl/v<version>/netsuite.wsdl`:
//! exactly the operations served (`getServerTime`, `getDataCenterUrls`, `get`), each with the
//! `tokenPassport` header, in NetSuite's namespaces for that version, document/literal — enough
//! for a generic SOAP client to build its calls.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_xml::escape::escape;

use crate::AppState;
use crate::edge::Received;

/// `GET /wsdl/v<version>/netsuite.wsdl`, the version as the endpoint's (`v2024_2`) or as
/// NetSuite's documentation writes it (`v2024_2_0`).
pub(crate) async fn wsdl(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(dir): Path<String>,
    request: Request,
) -> Response {
    let Some(version) = dir
        .strip_prefix('v')
        .map(|v| v.strip_suffix("_0").unwrap_or(v))
        .filter(|v| super::version_of(&format!("NetSuitePort_{v}")).is_some())
        .map(str::to_owned)
    else {
        return crate::not_found_response();
    };
    answer(&state, peer, request, &version).await
}

/// `GET /services/NetSuitePort_<version>?wsdl`: the same document, where SOAP toolkits look
/// for it by default.
pub(crate) async fn wsdl_of_service(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(port): Path<String>,
    request: Request,
) -> Response {
    let asked = request
        .uri()
        .query()
        .is_some_and(|q| q.eq_ignore_ascii_case("wsdl"));
    let Some(version) = super::version_of(&port)
        .filter(|_| asked)
        .map(str::to_owned)
    else {
        return crate::not_found_response();
    };
    answer(&state, peer, request, &version).await
}

async fn answer(state: &AppState, peer: SocketAddr, request: Request, version: &str) -> Response {
    let received = match Received::read(state, peer, request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let origin = crate::surfaces::discovery::origin(state, &received);
    let address = format!("{origin}/services/NetSuitePort_{version}");
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        document(version, &escape(&address)),
    )
        .into_response()
}

fn document(v: &str, address: &str) -> String {
    let operations = [
        (
            "getServerTime",
            "getServerTimeRequest",
            "getServerTimeResponse",
        ),
        (
            "getDataCenterUrls",
            "getDataCenterUrlsRequest",
            "getDataCenterUrlsResponse",
        ),
        ("get", "getRequest", "getResponse"),
    ];
    let mut messages = String::new();
    let mut port_ops = String::new();
    let mut binding_ops = String::new();
    for (op, request, response) in operations {
        messages.push_str(&format!(
            "<message name=\"{request}\"><part name=\"parameters\" element=\"platformMsgs:{op}\"/></message>\
             <message name=\"{response}\"><part name=\"{response}\" element=\"platformMsgs:{op}Response\"/></message>"
        ));
        port_ops.push_str(&format!(
            "<operation name=\"{op}\"><input message=\"tns:{request}\"/><output message=\"tns:{response}\"/></operation>"
        ));
        binding_ops.push_str(&format!(
            "<operation name=\"{op}\"><soap:operation soapAction=\"{op}\"/>\
             <input><soap:header message=\"tns:tokenPassportHeader\" part=\"tokenPassport\" use=\"literal\"/><soap:body use=\"literal\"/></input>\
             <output><soap:body use=\"literal\"/></output></operation>"
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:platform_{v}.webservices.netsuite.com" xmlns:platformCore="urn:core_{v}.platform.webservices.netsuite.com" xmlns:platformMsgs="urn:messages_{v}.platform.webservices.netsuite.com" targetNamespace="urn:platform_{v}.webservices.netsuite.com">
<!-- Tessera: the operations this server serves, with NetSuite's TokenPassport header. -->
<types>
<xsd:schema targetNamespace="urn:core_{v}.platform.webservices.netsuite.com" elementFormDefault="qualified" xmlns:platformCore="urn:core_{v}.platform.webservices.netsuite.com">
  <xsd:complexType name="TokenPassportSignature"><xsd:simpleContent><xsd:extension base="xsd:string"><xsd:attribute name="algorithm" type="xsd:string" use="required"/></xsd:extension></xsd:simpleContent></xsd:complexType>
  <xsd:complexType name="TokenPassport"><xsd:sequence>
    <xsd:element name="account" type="xsd:string"/>
    <xsd:element name="consumerKey" type="xsd:string"/>
    <xsd:element name="token" type="xsd:string"/>
    <xsd:element name="nonce" type="xsd:string"/>
    <xsd:element name="timestamp" type="xsd:long"/>
    <xsd:element name="signature" type="platformCore:TokenPassportSignature"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="Status"><xsd:sequence/><xsd:attribute name="isSuccess" type="xsd:boolean" use="required"/></xsd:complexType>
  <xsd:complexType name="GetServerTimeResult"><xsd:sequence>
    <xsd:element name="status" type="platformCore:Status"/>
    <xsd:element name="serverTime" type="xsd:dateTime"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="DataCenterUrls"><xsd:sequence>
    <xsd:element name="restDomain" type="xsd:string"/>
    <xsd:element name="webservicesDomain" type="xsd:string"/>
    <xsd:element name="systemDomain" type="xsd:string"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="GetDataCenterUrlsResult"><xsd:sequence>
    <xsd:element name="status" type="platformCore:Status"/>
    <xsd:element name="dataCenterUrls" type="platformCore:DataCenterUrls"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="RecordRef"><xsd:sequence/><xsd:attribute name="internalId" type="xsd:string"/><xsd:attribute name="type" type="xsd:string"/></xsd:complexType>
  <xsd:complexType name="Caller"><xsd:sequence>
    <xsd:element name="entityId" type="xsd:string"/>
    <xsd:element name="email" type="xsd:string"/>
    <xsd:element name="application" type="xsd:string"/>
    <xsd:element name="tokenName" type="xsd:string"/>
  </xsd:sequence>
    <xsd:attribute name="internalId" type="xsd:string"/><xsd:attribute name="account" type="xsd:string"/>
    <xsd:attribute name="roleId" type="xsd:string"/><xsd:attribute name="role" type="xsd:string"/>
  </xsd:complexType>
  <xsd:complexType name="ReadResponse"><xsd:sequence>
    <xsd:element name="status" type="platformCore:Status"/>
    <xsd:element name="record" type="platformCore:Caller"/>
  </xsd:sequence></xsd:complexType>
</xsd:schema>
<xsd:schema targetNamespace="urn:messages_{v}.platform.webservices.netsuite.com" elementFormDefault="qualified" xmlns:platformCore="urn:core_{v}.platform.webservices.netsuite.com">
  <xsd:import namespace="urn:core_{v}.platform.webservices.netsuite.com"/>
  <xsd:element name="tokenPassport" type="platformCore:TokenPassport"/>
  <xsd:element name="getServerTime"><xsd:complexType><xsd:sequence/></xsd:complexType></xsd:element>
  <xsd:element name="getServerTimeResponse"><xsd:complexType><xsd:sequence><xsd:element name="getServerTimeResult" type="platformCore:GetServerTimeResult"/></xsd:sequence></xsd:complexType></xsd:element>
  <xsd:element name="getDataCenterUrls"><xsd:complexType><xsd:sequence><xsd:element name="account" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
  <xsd:element name="getDataCenterUrlsResponse"><xsd:complexType><xsd:sequence><xsd:element name="getDataCenterUrlsResult" type="platformCore:GetDataCenterUrlsResult"/></xsd:sequence></xsd:complexType></xsd:element>
  <xsd:element name="get"><xsd:complexType><xsd:sequence><xsd:element name="baseRef" type="platformCore:RecordRef" minOccurs="0"/></xsd:sequence></xsd:complexType></xsd:element>
  <xsd:element name="getResponse"><xsd:complexType><xsd:sequence><xsd:element name="readResponse" type="platformCore:ReadResponse"/></xsd:sequence></xsd:complexType></xsd:element>
</xsd:schema>
</types>
<message name="tokenPassportHeader"><part name="tokenPassport" element="platformMsgs:tokenPassport"/></message>
{messages}
<portType name="NetSuitePortType">{port_ops}</portType>
<binding name="NetSuiteBinding" type="tns:NetSuitePortType"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>{binding_ops}</binding>
<service name="NetSuiteService"><port name="NetSuitePort" binding="tns:NetSuiteBinding"><soap:address location="{address}"/></port></service>
</definitions>
"#
    )
}
